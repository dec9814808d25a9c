# syntax=docker/dockerfile:1
# Build: a static binary with the built-in policy and the time-zone database
# embedded, so the final image needs nothing but the binary.
FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 GOOS=linux go build -trimpath -ldflags="-s -w" -o /out/ageassure .
# The one folder the service writes: the decision log (and its key, in
# .ageassure/). It exists in the image, owned by the runtime user, so a named
# volume mounted there starts with that owner and mode.
RUN mkdir -p /out/var/lib/ageassure/log && chmod 0700 /out/var/lib/ageassure/log

# Run: distroless static, non-root (uid 65532), no shell, no package manager.
# Mount a volume at /var/lib/ageassure/log: without one the decision log and
# its key live in the container and die with it. Nothing else is written, so
# the root file system can be read-only (docker run --read-only). See
# docs/operations.md.
FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/ageassure /usr/local/bin/ageassure
COPY --from=build --chown=65532:65532 /out/var/lib/ageassure /var/lib/ageassure
ENV AGEASSURE_LOG_DIR=/var/lib/ageassure/log
USER nonroot:nonroot
EXPOSE 8080
ENTRYPOINT ["/usr/local/bin/ageassure"]
CMD ["serve", "--addr", ":8080"]
