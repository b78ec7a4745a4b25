// The smallest program built against an installed harrier (see CMakeLists.txt beside it).
#include <harrier/harrier.hpp>

#include <cstdio>
#include <cstring>
#include <vector>

namespace {

harrier::task<int> square(int x) {
  co_return x* x;
}

harrier::task<int> sum_of_squares(int n) {
  std::vector<harrier::task<int>> parts;
  for (int i = 1; i <= n; ++i)
    parts.push_back(square(i));
  int total = 0;
  for (int v : co_await harrier::when_all(std::move(parts)))
    total += v;
  co_return total;
}

}  // namespace

int main(int argc, char** argv) {
  const bool self_test = argc > 1 && std::strcmp(argv[1], "--self-test") == 0;
  const int result = harrier::sync_wait(sum_of_squares(10));
  std::printf("harrier %s: sum of squares 1..10 = %d\n", harrier::k_version_string, result);
  return self_test && result != 385 ? 1 : 0;
}
