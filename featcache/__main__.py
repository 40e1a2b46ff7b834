from featcache.cli import main

raise SystemExit(main())
