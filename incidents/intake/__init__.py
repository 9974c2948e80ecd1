"""Field intake: SMS and KoboToolbox reports, their secrets and the held queue."""
