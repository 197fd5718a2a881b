"""``tcplab lab``: TCP in the browser. Two endpoints on the simulated network, buttons for the
user calls and the network, a live ladder, the state diagram with the state and the edge just
taken, the stories stepped segment by segment; every session a URL that replays it.

- ``tcplab.lab.session``: the world a recipe (story, actions) builds; no web in it;
- ``tcplab.lab.view``: what the page shows of a session, and the cache of sessions;
- ``tcplab.lab.app``: the Flask application (``pip install 'tcplab[lab]'``).
"""
