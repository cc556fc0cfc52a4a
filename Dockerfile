# correlator: the worker, the simulator and every other `correlator` command in one image.
#   docker build -t correlator .      (docker-compose.yml builds it for you)
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app
COPY pyproject.toml README.md ./
COPY correlator ./correlator
COPY tui ./tui
# psycopg is the PostgreSQL driver of the history store (CORRELATOR_DB=postgresql://…).
RUN pip install . "psycopg[binary]>=3.2"
COPY topologies /topologies

RUN useradd --create-home --uid 10001 correlator
USER correlator
WORKDIR /home/correlator

# The web view (webhook ingress) of `correlator worker`.
EXPOSE 6066
CMD ["correlator", "--help"]
