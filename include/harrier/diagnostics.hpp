#pragma once
// Diagnostics: metrics registry and exposition, trace recording, heartbeat, blocking detector.
#include <harrier/diagnostics/blocking_detector.hpp>
#include <harrier/diagnostics/heartbeat.hpp>
#include <harrier/diagnostics/metric_exposition.hpp>
#include <harrier/diagnostics/metric_names.hpp>
#include <harrier/diagnostics/metric_registry.hpp>
#include <harrier/diagnostics/metric_snapshot.hpp>
#include <harrier/diagnostics/process_metrics.hpp>
#include <harrier/diagnostics/trace_recorder.hpp>
