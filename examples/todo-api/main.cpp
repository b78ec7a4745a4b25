// todo-api: a small CRUD JSON API kept in memory, on harrier's minimal APIs.
//
//   GET    /todos              every todo
//   POST   /todos              {"title": "...", "done": false} → 201 with Location
//   GET    /todos/{id:int}     one todo, or 404
//   PUT    /todos/{id:int}     replace it (validated), or 404
//   DELETE /todos/{id:int}     204, or 404
// Invalid input gets a 400/422 problem document that says what was wrong.

#include <harrier/harrier.hpp>
#include <harrier/middleware/application.hpp>
#include <harrier/middleware/builtin.hpp>

#include <nlohmann/json.hpp>

#include <map>
#include <mutex>
#include <optional>
#include <string>

namespace {

struct todo {
  int id = 0;
  std::string title;
  bool done = false;
};

void to_json(nlohmann::json& j, const todo& t) {
  j = {{"id", t.id}, {"title", t.title}, {"done", t.done}};
}

// What a client may send: a title (1..200 characters) and an optional done flag.
struct todo_input {
  std::string title;
  bool done = false;
};

void from_json(const nlohmann::json& j, todo_input& in) {
  j.at("title").get_to(in.title);
  if (j.contains("done")) j.at("done").get_to(in.done);
}

void validate(const todo_input& in) {
  if (in.title.empty() || in.title.size() > 200) {
    throw harrier::http_error(422, "Unprocessable Content", "invalid todo",
                              {{"errors", {{"title", "must be 1 to 200 characters"}}}});
  }
}

class todo_store {
 public:
  nlohmann::json all() const {
    std::lock_guard lock(m_mutex);
    nlohmann::json list = nlohmann::json::array();
    for (const auto& [id, t] : m_todos)
      list.push_back(t);
    return list;
  }
  std::optional<todo> find(int id) const {
    std::lock_guard lock(m_mutex);
    auto it = m_todos.find(id);
    return it == m_todos.end() ? std::nullopt : std::optional<todo>(it->second);
  }
  todo add(const todo_input& in) {
    std::lock_guard lock(m_mutex);
    todo t{m_next_id++, in.title, in.done};
    m_todos[t.id] = t;
    return t;
  }
  std::optional<todo> replace(int id, const todo_input& in) {
    std::lock_guard lock(m_mutex);
    auto it = m_todos.find(id);
    if (it == m_todos.end()) return std::nullopt;
    it->second.title = in.title;
    it->second.done = in.done;
    return it->second;
  }
  bool remove(int id) {
    std::lock_guard lock(m_mutex);
    return m_todos.erase(id) == 1;
  }

 private:
  mutable std::mutex m_mutex;
  std::map<int, todo> m_todos;
  int m_next_id = 1;
};

}  // namespace

int main(int argc, char** argv) {
  auto app = harrier::application::create(argc, argv, {}, "todo-api: an in-memory todo list");
  app.use(harrier::exception_handler());
  todo_store store;
  using harrier::from_body;
  using harrier::from_route;
  namespace results = harrier::results;

  auto todos = app.group("/todos");
  todos.map_get("/", [&store] { return store.all(); });
  todos.map_post("/", [&store](from_body<todo_input> in) {
    validate(*in);
    const todo t = store.add(*in);
    return results::created("/todos/" + std::to_string(t.id), t);
  });
  todos.map_get("/{id:int}", [&store](from_route<"id", int> id) -> harrier::result {
    if (auto t = store.find(*id)) return results::json(*t);
    return results::not_found();
  });
  todos.map_put("/{id:int}",
                [&store](from_route<"id", int> id, from_body<todo_input> in) -> harrier::result {
                  validate(*in);
                  if (auto t = store.replace(*id, *in)) return results::json(*t);
                  return results::not_found();
                });
  todos.map_delete("/{id:int}", [&store](from_route<"id", int> id) {
    return store.remove(*id) ? results::no_content() : results::not_found();
  });
  return app.run();
}
