"""`python -m bench.serve floor|sentinelle --port P`: both served alike (uvicorn, one worker)."""

from __future__ import annotations

import argparse

import uvicorn
from litestar import Litestar


def build(kind: str, database_url: str | None, var_dir: str | None) -> Litestar:
    if kind == "floor":
        from bench.floor_app import create_floor_app

        return create_floor_app()
    from api.http.app import create_app
    from api.settings import Settings

    settings = Settings(
        database_url=database_url or Settings.database_url,
        var_dir=var_dir or Settings.var_dir,
        # A load test is not abuse: keep any rate limit far above what the bench sends.
        rate_limit_per_minute=1_000_000_000,
    )
    return create_app(settings)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("kind", choices=("floor", "sentinelle"))
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--database-url")
    parser.add_argument("--var-dir")
    args = parser.parse_args()
    app = build(args.kind, args.database_url, args.var_dir)
    # The same call as `sentinelle serve`, quieter: one worker on 127.0.0.1.
    uvicorn.run(app, host="127.0.0.1", port=args.port, log_level="warning", access_log=False)


if __name__ == "__main__":
    main()
