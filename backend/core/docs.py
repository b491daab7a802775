"""The schema and its two readers (Swagger UI, ReDoc), answering OPTIONS like every page.

drf-spectacular's views render OPTIONS' metadata through their HTML template, which is
not made for it (Swagger UI's fails: a 500): OPTIONS says which methods the page allows.
"""

from django.http import HttpResponse
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerSplitView


class AllowOptionsMixin:
    def options(self, request, *args, **kwargs) -> HttpResponse:
        return HttpResponse(b"", content_type="text/plain")  # DRF adds `Allow`


class SchemaView(AllowOptionsMixin, SpectacularAPIView):
    pass


class SwaggerView(AllowOptionsMixin, SpectacularSwaggerSplitView):
    pass


class RedocView(AllowOptionsMixin, SpectacularRedocView):
    pass
