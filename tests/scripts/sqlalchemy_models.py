"""Imported by sqlalchemy_app.py: an engine made at import time of a module (as most
applications do) and the ORM models. Works on SQLAlchemy 1.4, 2.0 and 2.1."""

import os

from sqlalchemy import Column, Integer, MetaData, String, Table, create_engine
from sqlalchemy.orm import declarative_base

engine = create_engine("sqlite:///" + os.environ["SQLALCHEMY_TEST_DB"])

metadata = MetaData()
users = Table(
    "users", metadata,
    Column("id", Integer, primary_key=True),
    Column("name", String(200)),
)

Base = declarative_base()


class Item(Base):
    __tablename__ = "items"
    id = Column(Integer, primary_key=True)
    name = Column(String(200))
