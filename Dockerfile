# Keycare: one static binary (pure-Go SQLite, no cgo).
FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o /out/keycare ./cmd/keycare

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/keycare /usr/local/bin/keycare
ENV KEYCARE_ADDR=0.0.0.0:8080 KEYCARE_DATA_DIR=/data
VOLUME /data
EXPOSE 8080
ENTRYPOINT ["/usr/local/bin/keycare"]
CMD ["serve"]
