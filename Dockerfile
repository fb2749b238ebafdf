# A static, non-root image of canopy. Build: docker build -t canopy .
# Run:   docker run -p 8900:8900 -v canopy-data:/data canopy
FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o /out/canopy ./cmd/canopy

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/canopy /canopy
USER nonroot:nonroot
VOLUME /data
EXPOSE 8900 8901
# Inside a container the API must listen beyond loopback: canopy warns
# loudly that there is no TLS or authentication yet.
ENTRYPOINT ["/canopy", "serve", "--http", "0.0.0.0:8900", "--raft", "0.0.0.0:8901", "--raft-advertise", "127.0.0.1:8901", "--data-dir", "/data"]
