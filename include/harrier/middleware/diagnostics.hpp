#pragma once
// Built-in diagnostics for applications: request metrics and the diagnostics endpoints.
//
// request_metrics(): middleware that records http_server_active_requests and
// http_server_request_duration_seconds{method, route, status} (OpenTelemetry's HTTP semantic
// conventions: the route label is the matched template, "" for unmatched requests, and methods
// outside the standard set are "_OTHER", so cardinality stays bounded). The series handle is
// cached per thread, so a request costs two counter updates and one histogram observation.
// The application installs it first in the pipeline unless told not to.

#include <harrier/middleware/pipeline.hpp>

namespace harrier::diagnostics {
class metric_registry;
}

namespace harrier {

middleware_fn request_metrics(diagnostics::metric_registry& registry);

}  // namespace harrier
