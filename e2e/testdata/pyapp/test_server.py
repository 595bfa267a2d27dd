import threading
import unittest
import urllib.request

import server


class ServerTest(unittest.TestCase):
    def test_root_answers_with_the_version(self):
        srv = server.serve(0)
        threading.Thread(target=srv.serve_forever, daemon=True).start()
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{srv.server_address[1]}/") as res:
                self.assertEqual(res.status, 200)
                self.assertEqual(res.read().decode(), f"pyapp version {server.VERSION}\n")
        finally:
            srv.shutdown()
            srv.server_close()


if __name__ == "__main__":
    unittest.main()
