"""Risk: the pure scoring model, zone scores and level changes, area and route assessment, skill."""
