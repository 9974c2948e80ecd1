"""The Litestar application: auth, errors, protective middleware and the route modules."""
