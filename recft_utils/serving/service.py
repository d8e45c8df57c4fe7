"""The HTTP service: FastAPI on uvicorn, over an exported model folder.

Endpoints: ``GET /health``, ``POST /recommend``, ``GET /items/{item_id}``.
A known customer's history is read from the model folder's table (``histories.npz``);
``/recommend`` says in ``search`` whether the SavedModel scored every item (``exact``) or
the approximate index beside it found the candidates (``ann``). Every response carries
the model version (in the body and the ``X-Model-Version`` header). Bad requests get a 4xx and a JSON body
``{"error": "...", "model_version": ...}`` that says what is wrong.
"""

from __future__ import annotations

import json
from typing import Annotated

from fastapi import FastAPI, HTTPException, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, model_validator

from recft_utils.serving.model_folder import MAX_K, ServedModel

MAX_HISTORY_REQUEST = 200  # items in one request's history (the model reads its first max_history)
MAX_AGE_DAYS = 36_500  # a hundred years: an older "purchase" is a client's bug, not a customer's history
# a finite age from 0 to MAX_AGE_DAYS ("NaN", infinities and 1e308 are refused with a 422)
AgeDays = Annotated[float, Field(ge=0, le=MAX_AGE_DAYS, allow_inf_nan=False)]


class RecommendRequest(BaseModel):
    """A history (``items``, most recent first, optional ``ages_days``) or a known ``customer_id``."""

    model_config = ConfigDict(extra="forbid")

    items: list[str] | None = Field(None, max_length=MAX_HISTORY_REQUEST)
    ages_days: list[AgeDays] | None = None
    customer_id: str | None = None
    k: int = Field(10, ge=1, le=MAX_K)
    exclude: list[str] = Field(default_factory=list, max_length=1000)
    exclude_history: bool = True

    @model_validator(mode="after")
    def one_source(self):
        if (self.items is None) == (self.customer_id is None):
            raise ValueError("give either 'items' (recent item ids, most recent first) or 'customer_id', not both")
        if self.items is not None and not self.items:
            raise ValueError("'items' is empty: send at least one recent item id (or a customer_id)")
        if self.ages_days is not None and (self.items is None or len(self.ages_days) != len(self.items)):
            raise ValueError("'ages_days' needs one age (days since purchase, >= 0) per item of 'items'")
        return self


def _readable(errors: list[dict]) -> str:
    parts = []
    for error in errors:
        where = ".".join(str(p) for p in error.get("loc", ()) if p != "body")
        message = error.get("msg", "invalid").removeprefix("Value error, ")
        parts.append(f"{where}: {message}" if where else message)
    return "; ".join(parts)


class ModelHolder:
    """The model a service answers with; :meth:`swap` replaces it between requests (hot reload).

    Each request takes ``holder.model`` once, so requests in flight during a
    swap finish with the model they started with.
    """

    def __init__(self, model: ServedModel):
        self.model = model

    def swap(self, model: ServedModel) -> None:
        self.model = model  # one reference assignment: atomic for the request threads


def create_app(source: ServedModel | ModelHolder) -> FastAPI:
    """The FastAPI application serving ``source`` (a model, or a holder whose model can be swapped)."""
    holder = source if isinstance(source, ModelHolder) else ModelHolder(source)
    app = FastAPI(title="recft recommender", version=holder.model.version)

    def error(status: int, message: str, **extra) -> JSONResponse:
        return JSONResponse({"error": message, "model_version": holder.model.version, **extra}, status_code=status)

    @app.middleware("http")
    async def version_header(request: Request, call_next):
        response = await call_next(request)
        response.headers.setdefault("X-Model-Version", holder.model.version)  # endpoints set the exact one
        return response

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, exc: RequestValidationError):
        errors = exc.errors()
        if any(e.get("type") == "json_invalid" for e in errors):
            example = json.dumps({"items": [str(holder.model.item_ids[0])], "k": 10})  # an id of this catalogue
            return error(400, f"the request body is not valid JSON: send an object such as {example}")
        return error(422, _readable(errors))

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException):
        return error(exc.status_code, str(exc.detail))

    @app.get("/health")
    def health(response: Response):
        model = holder.model
        response.headers["X-Model-Version"] = model.version
        return {
            "status": "ok",
            "model_version": model.version,
            "items": len(model.items),
            "customers": len(model.histories),
            "as_of": model.metadata["as_of"],
            "search": model.search,
        }

    @app.get("/items/{item_id}")
    def item(item_id: str, response: Response):
        model = holder.model
        if item_id not in model.items.index:
            raise HTTPException(404, f"item {item_id!r} is not in the catalogue")
        row = model.items.loc[item_id]
        response.headers["X-Model-Version"] = model.version
        return {
            "item_id": item_id,
            "title": str(row.get("title", "")),
            "warm": bool(row["warm"]),
            "model_version": model.version,
        }

    @app.post("/recommend")
    def recommend(request: RecommendRequest, response: Response):
        model = holder.model
        unknown = []
        if request.customer_id is not None:
            if request.customer_id not in model.histories:
                raise HTTPException(
                    404, f"customer {request.customer_id!r} has no stored history: send their recent 'items' instead"
                )
            top = model.recommend(
                request.k,
                customer_id=request.customer_id,
                exclude=request.exclude,
                exclude_history=request.exclude_history,
            )
        else:
            known = [i in model.items.index for i in request.items]
            unknown = [i for i, ok in zip(request.items, known) if not ok]
            if not any(known):
                raise HTTPException(422, f"none of the items is in the catalogue: {unknown[:10]}")
            top = model.recommend(
                request.k,
                items=request.items,
                ages=request.ages_days,
                exclude=request.exclude,
                exclude_history=request.exclude_history,
            )
        titles = model.items["title"].reindex(top["item_id"]) if "title" in model.items else None
        response.headers["X-Model-Version"] = model.version
        return {
            "model_version": model.version,
            "k": request.k,
            "search": top.attrs["search"],
            "unknown_items": unknown,
            "recommendations": [
                {"item_id": i, "score": round(s, 6), **({"title": titles.iloc[n]} if titles is not None else {})}
                for n, (i, s) in enumerate(zip(top["item_id"], top["score"]))
            ],
        }

    return app


def serve(
    model_dir=None,
    host: str = "127.0.0.1",
    port: int = 8000,
    log_level: str = "warning",
    registry=None,
    reload_seconds: float = 0.25,
) -> None:
    """Load and check the model (a clear error before anything listens), then serve until stopped.

    With ``registry`` (a :class:`~recft_utils.lifecycle.registry.ModelRegistry`, which ``recft serve
    --registry`` opens: the lifecycle builds on serving, not the other way round) the service answers
    with its champion and hot-reloads a newly promoted or rolled-back one.
    """
    import uvicorn

    watcher = None
    if registry is not None:
        from recft_utils.serving.reload import RegistryWatcher

        holder = ModelHolder(ServedModel.load(registry.champion_dir()))
        watcher = RegistryWatcher(registry, holder, reload_seconds)
        watcher.start()
        source = f"registry {registry.root}"
    else:
        holder = ModelHolder(ServedModel.load(model_dir))
        source = str(model_dir)
    if host not in ("127.0.0.1", "localhost", "::1"):
        print(f"warning: listening on {host}: other machines can reach this service", flush=True)
    print(
        json.dumps({"serving": source, "model_version": holder.model.version, "url": f"http://{host}:{port}"}),
        flush=True,
    )
    try:
        uvicorn.run(create_app(holder), host=host, port=port, log_level=log_level, access_log=False)
    finally:
        if watcher is not None:
            watcher.stop()
