"""The routing engine: Valhalla in process, on tiles built from an OpenStreetMap extract.

``pbf`` checks an extract before anything is built from it, ``build`` turns it into a tile set
beside the active one and switches only when the new one answers a route, ``tileset`` knows a
tile set's Valhalla configuration and its test route, and ``pool`` answers routes on worker
threads, each with its own Actor, so the event loop never waits for one. The manifest naming
the active map is the foundation's (``incar.maps``): the simulator reads it too.
"""
