from pairview.cli import main

raise SystemExit(main())
