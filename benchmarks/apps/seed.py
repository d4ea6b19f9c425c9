"""Create and fill the SQLite table `item` (id, name, value) used by the apps (stdlib)."""
import sqlite3


def seed_sqlite(path, rows=100):
    con = sqlite3.connect(path)
    with con:
        con.execute("CREATE TABLE IF NOT EXISTS item (id INTEGER PRIMARY KEY, name TEXT, value INTEGER)")
        con.execute("DELETE FROM item")
        con.executemany("INSERT INTO item (id, name, value) VALUES (?, ?, ?)",
                        [(i, "item-%d" % i, i * 7) for i in range(1, rows + 1)])
    con.close()
