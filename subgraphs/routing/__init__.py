"""Routing: routes to a station (car, bike, walk) on the platform's map, in process."""
