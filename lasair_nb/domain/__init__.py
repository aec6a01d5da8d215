"""Pure science: sky positions and HEALPix covers, sky maps, photometry, features, context, times.

Nothing here touches a database; everything is tested without a server.
"""
