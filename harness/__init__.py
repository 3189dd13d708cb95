"""What the tests and the benches both drive the app with: a real server (servers.py), a session over
Streamlit's websocket (session.py), drawings made from MNIST digits (synth.py), and Debian's Chromium
used as a person uses it (browser.py). Benches import these, never tests/."""
