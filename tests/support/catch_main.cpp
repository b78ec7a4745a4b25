// Catch2's main, in its own translation unit so its long compile happens once.
#define CATCH_CONFIG_MAIN
#include <catch2/catch.hpp>
