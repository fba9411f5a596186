# Hookline in a container: a static binary on distroless (no shell, no
# package manager), run as the unprivileged user nonroot (65532), its
# SQLite database and generated API key in the /data volume.
#
#   docker build -t hookline .
#   docker run -it -p 8080:8080 -v hookline-data:/data hookline
#
# Settings are the HOOKLINE_ environment variables of `hookline serve
# --help` (-e HOOKLINE_DATABASE_URL=postgres://… for PostgreSQL); give the
# API key as a secret file with HOOKLINE_API_KEY_FILE=/run/secrets/….

FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=dev
RUN CGO_ENABLED=0 go build -trimpath -ldflags "-s -w -X github.com/hookline/hookline.Version=${VERSION}" \
        -o /out/hookline ./cmd/hookline \
    && mkdir -p /out/data && chmod 0700 /out/data

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/hookline /usr/local/bin/hookline
# Owned by nonroot and 0700, as hookline wants its data dir: a named volume
# mounted here starts as a copy of it.
COPY --from=build --chown=65532:65532 /out/data /data
USER 65532:65532
ENV HOOKLINE_DATA_DIR=/data \
    HOOKLINE_ADDR=0.0.0.0:8080
VOLUME ["/data"]
EXPOSE 8080
HEALTHCHECK NONE
ENTRYPOINT ["/usr/local/bin/hookline"]
CMD ["serve"]
