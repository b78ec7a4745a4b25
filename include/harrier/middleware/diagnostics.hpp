#pragma once
// Built-in diagnostics for applications: request metrics and the diagnostics endpoints.
//
// request_metrics(): middleware that records http_server_active_requests and
// http_server_request_duration_seconds{method, route, status} (OpenTelemetry's HTTP semantic
// conventions: the route label is the matched template, "" for unmatched requests, and methods
// outside the standard set are "_OTHER", so cardinality stays bounded). The series handle is
// cached per thread, so a request costs two counter updates and one histogram observation.
// request_metrics_observer(): the same as a request_observer (app_pipeline.hpp), which is how the
// application installs it unless told not to: around the whole pipeline, without the frame a
// middleware costs per request.

#include <harrier/middleware/pipeline.hpp>

#include <memory>

namespace harrier::diagnostics {
class metric_registry;
}

namespace harrier {

class request_observer;

middleware_fn request_metrics(diagnostics::metric_registry& registry);
std::shared_ptr<request_observer> request_metrics_observer(diagnostics::metric_registry& registry);

}  // namespace harrier
