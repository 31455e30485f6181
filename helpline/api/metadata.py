from rest_framework.metadata import BaseMetadata


class Metadata(BaseMetadata):
    """OPTIONS answers what the endpoint is and which formats it speaks — the OpenAPI schema
    describes the rest. It never looks an object up, so it cannot fail or tell whether an id exists."""

    def determine_metadata(self, request, view):
        return {
            "name": view.get_view_name(),
            "description": view.get_view_description(),
            "renders": [renderer.media_type for renderer in view.renderer_classes],
            "parses": [parser.media_type for parser in view.parser_classes],
        }
