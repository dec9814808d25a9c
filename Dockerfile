# syntax=docker/dockerfile:1
# Build: a static binary with the built-in policy and the time-zone database
# embedded, so the final image needs nothing but the binary.
FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 GOOS=linux go build -trimpath -ldflags="-s -w" -o /out/ageassure .

# Run: distroless static, non-root (uid 65532), no shell, no package manager.
FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/ageassure /usr/local/bin/ageassure
USER nonroot:nonroot
EXPOSE 8080
ENTRYPOINT ["/usr/local/bin/ageassure"]
CMD ["serve", "--addr", ":8080"]
