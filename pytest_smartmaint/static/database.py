"""What the files say of a database backend: the URI's parts, the driver SQLAlchemy picks, the db service.

Facts relied on (each is cited where a message uses it):
- SQLAlchemy's default DBAPI per dialect: ``postgresql`` -> psycopg2 before 2.1, psycopg (3) from 2.1;
  ``mysql``/``mariadb`` -> mysqlclient (``MySQLdb``); ``mssql`` -> pyodbc. SQLAlchemy 1.4 removed the
  ``postgres://`` alias ("Can't load plugin: sqlalchemy.dialects:postgres").
- The official images: postgres < 18 keeps PGDATA at /var/lib/postgresql/data and declares it a VOLUME;
  postgres 18+ uses /var/lib/postgresql/<major>/docker with VOLUME /var/lib/postgresql, and refuses to
  start with a mount at the old /var/lib/postgresql/data (docker-library/postgres#1259); mysql and mariadb
  keep /var/lib/mysql, a VOLUME. Their entrypoints create POSTGRES_USER/POSTGRES_DB (MYSQL_*/MARIADB_*)
  on first start, and run /docker-entrypoint-initdb.d scripts then.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

from packaging.specifiers import SpecifierSet
from packaging.version import Version

from .compose import ComposeProject, Mount, Service
from .image_facts import ImageFacts
from .install_steps import install_steps

SERVER_DIALECTS = ("postgresql", "postgres", "mysql", "mariadb", "mssql")
NEWEST_POSTGRES = 18  # what `postgres`, `postgres:latest` and `postgres:alpine` are today


@dataclass(frozen=True)
class DatabaseUri:
    scheme: str  # as written: postgresql+psycopg2
    dialect: str  # postgresql, mysql, mariadb, mssql (postgres: the alias SQLAlchemy dropped)
    driver: str | None  # the +driver part, None: SQLAlchemy's default
    user: str | None
    password: str | None
    host: str | None
    port: int | None
    database: str | None

    @property
    def redacted(self) -> str:
        """The URI as a message may show it: the password masked."""
        return self.redacted_as(self.scheme)

    def redacted_as(self, scheme: str) -> str:
        """The redacted URI under another scheme: the spelling a fix proposes."""
        auth = f"{self.user}{':***' if self.password is not None else ''}@" if self.user else ""
        port = f":{self.port}" if self.port else ""
        return f"{scheme}://{auth}{self.host or ''}{port}/{self.database or ''}"


def parse_database_uri(uri: str | None) -> DatabaseUri | None:
    """A database server URI (postgresql/mysql/mariadb/mssql, with or without +driver); None for any other."""
    if not uri or "://" not in uri:
        return None
    scheme = uri.split("://", 1)[0].lower()
    dialect, _, driver = scheme.partition("+")
    if dialect not in SERVER_DIALECTS:
        return None
    parts = urlsplit(uri)
    try:
        port = parts.port
    except ValueError:  # not a number (an unresolved variable): the host and the rest still read
        port = None
    return DatabaseUri(
        scheme=scheme,
        dialect=dialect,
        driver=driver or None,
        user=unquote(parts.username) if parts.username else None,
        password=unquote(parts.password) if parts.password is not None else None,
        host=parts.hostname,
        port=port,
        database=parts.path.lstrip("/") or None,
    )


def database_of(project: ComposeProject, uri: DatabaseUri) -> str | None:
    """The service the URI's host names: by service name, network alias or container_name."""
    for name, service in project.services.items():
        if uri.host and (uri.host == name or uri.host in service.aliases or uri.host == service.container_name):
            return name
    return None


def backend_database(project: ComposeProject, backend_store_uri: str | None) -> str | None:
    """The service that holds a database backend store, where the URI names one of the stack."""
    uri = parse_database_uri(backend_store_uri)
    return database_of(project, uri) if uri else None


# driver -> (the packages that provide it, the module SQLAlchemy imports)
DRIVERS: dict[str, tuple[tuple[str, ...], str]] = {
    "psycopg2": (("psycopg2", "psycopg2-binary"), "psycopg2"),
    "psycopg": (("psycopg", "psycopg-binary"), "psycopg"),
    "pg8000": (("pg8000",), "pg8000"),
    "mysqldb": (("mysqlclient",), "MySQLdb"),
    "pymysql": (("pymysql",), "pymysql"),
    "mysqlconnector": (("mysql-connector-python",), "mysql.connector"),
    "mariadbconnector": (("mariadb",), "mariadb"),
    "pyodbc": (("pyodbc",), "pyodbc"),
    "pymssql": (("pymssql",), "pymssql"),
}
MLFLOW_DB_EXTRA = ("pymysql", "psycopg2-binary", "psycopg", "pymssql")  # what `mlflow[db]` installs (3.x)
SQLALCHEMY_RELEASES = ("1.4.54", "2.0.44", "2.1.9")  # the newest of each line; unpinned resolves the last


def sqlalchemy_release(image: ImageFacts, mlflow_version: Version | None) -> str:
    """The SQLAlchemy a build of this image installs: the newest its pins admit (MLflow < 2.4 capped it below 2)."""
    declared = image.python_packages.get("sqlalchemy")
    spec = declared.specifier if declared is not None else SpecifierSet()
    if mlflow_version is not None and mlflow_version < Version("2.4"):
        spec &= SpecifierSet("<2")
    admitted = [v for v in SQLALCHEMY_RELEASES if spec.contains(v)]
    return admitted[-1] if admitted else SQLALCHEMY_RELEASES[-1]


def default_driver(dialect: str, sqlalchemy: str) -> str:
    if dialect == "postgresql":
        return "psycopg" if Version(sqlalchemy) >= Version("2.1") else "psycopg2"
    return {"mysql": "mysqldb", "mariadb": "mysqldb", "mssql": "pyodbc"}.get(dialect, "")


def installs_driver(image: ImageFacts, driver: str) -> bool:
    packages, _ = DRIVERS.get(driver, ((), ""))
    if any(image.declares(p) for p in packages):
        return True
    mlflow = image.python_packages.get("mlflow")
    return bool(mlflow and "db" in mlflow.extras and any(p in MLFLOW_DB_EXTRA for p in packages))


def unread_installs(image: ImageFacts) -> str | None:
    """A RUN that installs by means the files do not spell out (conda, a script): what it is, else None."""
    step = next((s for s in install_steps(image.run_lines) if s.installer == "unread"), None)
    if step is None:
        return None
    tool = step.words[0] if step.words[0] not in ("sh", "bash") else " ".join(step.words[:2])
    return tool.rsplit("/", 1)[-1]


@dataclass(frozen=True)
class DatabaseService:
    """The service a database URI's host names, as far as the files show what it runs."""

    service: Service
    kind: str | None  # postgresql, mysql; None: the files do not show
    data_dir: str | None
    image_volumes: tuple[str, ...]  # the image's VOLUMEs: anonymous volumes where nothing is mounted
    official: str | None  # postgres:16, mysql:8.4, ... the official image it is, or is built FROM
    major: int | None = None

    def data_mount(self) -> Mount | None:
        return self.service.mount_covering(self.data_dir) if self.data_dir else None

    def anonymous_volume(self) -> str | None:
        """The image VOLUME that holds the data dir, where it is deeper than any mount of the service."""
        if not self.data_dir:
            return None
        mount = self.data_mount()
        covering = [
            v for v in self.image_volumes if self.data_dir == v or self.data_dir.startswith(v.rstrip("/") + "/")
        ]
        deepest = max(covering, key=len, default=None)
        if deepest is None or (mount is not None and len(mount.target) >= len(deepest)):
            return None
        return deepest

    def init_scripts(self) -> Mount | None:
        return next((m for m in self.service.mounts if m.target.startswith("/docker-entrypoint-initdb.d")), None)


OFFICIAL = re.compile(r"^(?:docker\.io/)?(?:library/)?(postgres|mysql|mariadb)(?::([^@]+))?(?:@.*)?$")


def official_image(reference: str | None) -> tuple[str, str] | None:
    """(name, tag) of an official postgres/mysql/mariadb image reference."""
    match = OFFICIAL.match(reference or "")
    return (match.group(1), match.group(2) or "latest") if match else None


def database_service(service: Service, image: ImageFacts | None) -> DatabaseService:
    reference = image.base_image if image is not None else service.image
    official = official_image(reference)
    env = {k: v for k, v in service.environment.items() if v is not None}
    command = " ".join(service.command or (image.cmd if image and image.cmd else ()) or ())
    volumes = image.declared_volumes if image is not None else ()
    datadir = re.search(r"--datadir[= ](\S+)", command)
    mysql_dir = datadir.group(1) if datadir else "/var/lib/mysql"
    if official:
        name, tag = official
        if name == "postgres":
            major_text = re.match(r"\d+", tag)
            major = int(major_text.group(0)) if major_text else NEWEST_POSTGRES
            volume = "/var/lib/postgresql" if major >= 18 else "/var/lib/postgresql/data"
            default = f"/var/lib/postgresql/{major}/docker" if major >= 18 else "/var/lib/postgresql/data"
            return DatabaseService(
                service, "postgresql", env.get("PGDATA", default), (volume, *volumes), f"{name}:{tag}", major
            )
        return DatabaseService(service, "mysql", mysql_dir, ("/var/lib/mysql", *volumes), name)
    if image is not None:
        packages = " ".join(image.system_packages)
        if re.search(r"\bpostgresql\b|postgresql-\d+\b", packages):
            flag = re.search(r"(?:^|\s)-D\s*(\S+)", command)
            data_dir = env.get("PGDATA") or (flag.group(1) if flag else None)
            return DatabaseService(service, "postgresql", data_dir, volumes, None)
        if re.search(r"\b(mysql-server|mariadb-server|default-mysql-server)\b", packages):
            return DatabaseService(service, "mysql", mysql_dir, volumes, None)
    return DatabaseService(service, None, None, volumes, None)


@dataclass(frozen=True)
class Credentials:
    """What the db service's environment creates on first start (official images), where it says."""

    user: str | None
    password: str | None  # None: not set, or not literal
    database: str | None
    trust: bool = False  # POSTGRES_HOST_AUTH_METHOD=trust: any password is accepted


def official_credentials(db: DatabaseService, uri_user: str | None) -> Credentials | None:
    """The user, password and database an official image's entrypoint creates; None for other images."""
    if db.official is None:
        return None
    env = db.service.environment
    if db.kind == "postgresql":
        user = env.get("POSTGRES_USER") or "postgres"
        return Credentials(
            user,
            env.get("POSTGRES_PASSWORD"),
            env.get("POSTGRES_DB") or user,
            trust=(env.get("POSTGRES_HOST_AUTH_METHOD") or "") == "trust",
        )

    def var(suffix: str) -> str | None:
        return env.get(f"MARIADB_{suffix}") or env.get(f"MYSQL_{suffix}")

    if uri_user == "root":
        return Credentials("root", var("ROOT_PASSWORD"), var("DATABASE"))
    return Credentials(var("USER"), var("PASSWORD"), var("DATABASE"))
