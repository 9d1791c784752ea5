"""`python -m picogate` is the `picogate` command."""

from picogate.cli import main

raise SystemExit(main())
