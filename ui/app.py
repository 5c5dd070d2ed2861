"""The chat UI's entry point beside the repository's other folders: `python ui/app.py [--host H]
[--port P]` is `rag chat`. The app itself lives in the package (`rag/ui/`), so installing the
package never puts a generic top-level `ui` module into site-packages."""

import sys

from rag.cli import main

if __name__ == "__main__":
    raise SystemExit(main(["chat", *sys.argv[1:]]))
