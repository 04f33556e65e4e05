# One yrdchain node per container; docker-compose.yml wires the yrd-2021 network.
FROM python:3.11-slim
RUN apt-get update && apt-get install -y --no-install-recommends gcc libc6-dev \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY pyproject.toml README.md ./
COPY chain chain
COPY nodes nodes
COPY contracts contracts
COPY simulator simulator
COPY benchmarks benchmarks
RUN pip install --no-cache-dir .
VOLUME /data
EXPOSE 8600
CMD ["yrdchain", "node", "--help"]
