"""OpenAPI schema generation tweaks shared by every API."""

from drf_spectacular.openapi import AutoSchema as SpectacularAutoSchema


class AutoSchema(SpectacularAutoSchema):
    def get_serializer_name(self, serializer, direction) -> str:
        # APIs nest `InputSerializer`/`OutputSerializer`; name their components after the
        # API (`TokenCreateApi.OutputSerializer` -> `TokenCreateOutput`) so they never clash.
        outer, _, inner = type(serializer).__qualname__.rpartition(".")
        if outer:
            return outer.split(".")[-1].removesuffix("Api") + inner
        return super().get_serializer_name(serializer, direction)
