#pragma once

namespace harrier {
inline constexpr int k_version_major = 0;
inline constexpr int k_version_minor = 1;
inline constexpr int k_version_patch = 0;
inline constexpr const char* k_version_string = "0.1.0";
}  // namespace harrier
