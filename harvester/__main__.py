"""``python -m harvester`` runs the CLI."""

from harvester.cli import main

raise SystemExit(main())
