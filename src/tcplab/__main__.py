import sys

from tcplab.cli import main

sys.exit(main())
