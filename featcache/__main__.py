import sys

try:
    from featcache.cli import main
except KeyboardInterrupt:  # Ctrl-C while Python imports featcache: one line, as in main
    print("featcache: interrupted while starting; nothing was done", file=sys.stderr)
    raise SystemExit(130) from None

raise SystemExit(main())
