from readaloud.cli import main

raise SystemExit(main())
