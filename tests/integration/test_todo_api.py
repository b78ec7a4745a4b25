"""examples/todo-api over real HTTP: CRUD, Location, validation problems, 404s."""

import http.client
import json
import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(__file__))
import harness  # noqa: E402


class TodoApi(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        saved = harness.SERVER
        harness.SERVER = os.environ.get("HARRIER_TODO_API", "build/dev/examples/harrier-todo-api")
        try:
            cls.server = harness.Server().start()
        finally:
            harness.SERVER = saved

    @classmethod
    def tearDownClass(cls):
        assert cls.server.stop() == 0, cls.server.log()

    def call(self, method, path, body=None):
        conn = http.client.HTTPConnection(self.server.host, self.server.port, timeout=10)
        headers = {"Content-Type": "application/json"} if body is not None else {}
        conn.request(method, path, body=json.dumps(body) if body is not None else None,
                     headers=headers)
        res = conn.getresponse()
        data = res.read()
        conn.close()
        return res, (json.loads(data) if data else None)

    def test_create_read_update_delete(self):
        res, created = self.call("POST", "/todos", {"title": "write tests"})
        self.assertEqual(res.status, 201)
        location = res.getheader("Location")
        self.assertEqual(location, f"/todos/{created['id']}")
        res, got = self.call("GET", location)
        self.assertEqual((res.status, got["title"], got["done"]), (200, "write tests", False))
        res, updated = self.call("PUT", location, {"title": "write more tests", "done": True})
        self.assertEqual((res.status, updated["done"]), (200, True))
        res, listed = self.call("GET", "/todos")
        self.assertIn(updated, listed)
        res, _ = self.call("DELETE", location)
        self.assertEqual(res.status, 204)
        res, problem = self.call("GET", location)
        self.assertEqual(res.status, 404)
        self.assertEqual(problem["status"], 404)

    def test_validation_failures_are_problem_documents(self):
        res, problem = self.call("POST", "/todos", {"title": ""})
        self.assertEqual(res.status, 422)
        self.assertIn("title", problem["errors"])
        res, problem = self.call("POST", "/todos", {"nope": 1})
        self.assertEqual(res.status, 400)
        res, _ = self.call("GET", "/todos/abc")
        self.assertEqual(res.status, 404)
        res, _ = self.call("PATCH", "/todos/1")
        self.assertEqual(res.status, 405)


if __name__ == "__main__":
    unittest.main()
