"""The weekly situation report: figures (pure), map and chart (SVG, pure), the HTML/PDF
rendering, the request's parsing (pure) and the use case that reads the service's data."""
