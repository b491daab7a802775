"""The API layer's shared base: the one viewset of the resources whose writes go through services."""

from rest_framework import mixins, serializers, status, viewsets
from rest_framework.request import Request
from rest_framework.response import Response


class ServiceModelViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """List and read through the view's selector (`get_queryset`); create, replace, change and
    delete through the app's services, never through serializer.save().

    The input is `input_serializer_class`, rendered with `serializer_class`. A subclass says
    what each write means: `perform_service_create(data)`, `perform_service_update(instance,
    data)` and `perform_service_destroy(instance)`.

    One PUT semantics for every such resource: PUT replaces, so a field the input serializer
    declares and the body leaves out goes back to its empty value (None where it allows null,
    "" where it allows blank); a field that allows neither keeps its value. PATCH changes the
    fields given and nothing else.
    """

    input_serializer_class: type[serializers.Serializer]
    lookup_url_kwarg = "id"  # one path parameter name: /{id}/
    lookup_value_regex = "[0-9]+"  # ids are ASCII digits: "٣" is no id

    def perform_service_create(self, data: dict):
        raise NotImplementedError

    def perform_service_update(self, instance, data: dict):
        raise NotImplementedError

    def perform_service_destroy(self, instance) -> None:
        raise NotImplementedError

    def input_data(self, request: Request, *, partial: bool) -> dict:
        serializer = self.input_serializer_class(data=request.data, partial=partial)
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        if not partial:
            data = {**self.replaced_values(serializer), **data}
        return data

    @staticmethod
    def replaced_values(serializer: serializers.Serializer) -> dict:
        """What a PUT sets the fields it leaves out to (see the class's doc)."""
        values = {}
        for name, field in serializer.fields.items():
            if field.read_only or field.required:
                continue
            if getattr(field, "allow_null", False):
                values[name] = None
            elif getattr(field, "allow_blank", False):
                values[name] = ""
        return values

    def create(self, request: Request, *args, **kwargs) -> Response:
        instance = self.perform_service_create(self.input_data(request, partial=False))
        return Response(self.get_serializer(instance).data, status=status.HTTP_201_CREATED)

    def update(self, request: Request, *args, partial: bool = False, **kwargs) -> Response:
        instance = self.get_object()
        instance = self.perform_service_update(instance, self.input_data(request, partial=partial))
        return Response(self.get_serializer(instance).data)

    def partial_update(self, request: Request, *args, **kwargs) -> Response:
        return self.update(request, *args, partial=True, **kwargs)

    def destroy(self, request: Request, *args, **kwargs) -> Response:
        self.perform_service_destroy(self.get_object())
        return Response(status=status.HTTP_204_NO_CONTENT)
