"""Direct multipart upload of FILE to KEY in $S3_BUCKET at $S3_ENDPOINT: PART_SIZE-byte parts
(default 8 MiB), IN_FLIGHT at once (default 3), SigV4 headers with UNSIGNED-PAYLOAD and no
checksum, stdlib only. Prints seconds. Used by scripts/bench-s3-upload.sh as the baseline.
Usage: python3 scripts/lib/multipart.py FILE KEY [PART_SIZE] [IN_FLIGHT]"""
import datetime, hashlib, hmac, os, sys, time, urllib.parse, http.client, re
from concurrent.futures import ThreadPoolExecutor
path_file, key = sys.argv[1], sys.argv[2]
part_size = int(sys.argv[3]) if len(sys.argv) > 3 else 8 << 20
inflight = int(sys.argv[4]) if len(sys.argv) > 4 else 3
endpoint, region = os.environ["S3_ENDPOINT"], os.environ["S3_REGION"]
access, secret, bucket = os.environ["S3_ACCESS_KEY"], os.environ["S3_SECRET_KEY"], os.environ["S3_BUCKET"]
host = urllib.parse.urlparse(endpoint).netloc
def sign(k, m): return hmac.new(k, m.encode(), hashlib.sha256).digest()
def request(method, query, body=b""):
    now = datetime.datetime.now(datetime.timezone.utc)
    stamp, day = now.strftime("%Y%m%dT%H%M%SZ"), now.strftime("%Y%m%d")
    path = "/" + urllib.parse.quote(f"{bucket}/{key}", safe="/-_.~")
    enc = lambda t: urllib.parse.quote(str(t), safe="-_.~")
    cq = "&".join(f"{enc(k)}={enc(v)}" for k, v in sorted(query.items()))
    headers = {"host": host, "x-amz-content-sha256": "UNSIGNED-PAYLOAD", "x-amz-date": stamp}
    signed = ";".join(sorted(headers))
    canon = f"{method}\n{path}\n{cq}\n" + "".join(f"{h}:{headers[h]}\n" for h in sorted(headers)) + f"\n{signed}\nUNSIGNED-PAYLOAD"
    scope = f"{day}/{region}/s3/aws4_request"
    sts = f"AWS4-HMAC-SHA256\n{stamp}\n{scope}\n{hashlib.sha256(canon.encode()).hexdigest()}"
    k = sign(sign(sign(sign(("AWS4" + secret).encode(), day), region), "s3"), "aws4_request")
    headers["authorization"] = f"AWS4-HMAC-SHA256 Credential={access}/{scope}, SignedHeaders={signed}, Signature={hmac.new(k, sts.encode(), hashlib.sha256).hexdigest()}"
    headers["content-length"] = str(len(body))
    conn = http.client.HTTPConnection(host)
    conn.request(method, path + ("?" + cq if cq else ""), body=body, headers=headers)
    r = conn.getresponse(); data = r.read(); etag = r.getheader("ETag"); conn.close()
    assert r.status == 200, (r.status, data)
    return data, etag
started = time.time()
data, _ = request("POST", {"uploads": ""})
upload_id = re.search(rb"<UploadId>(.*?)</UploadId>", data).group(1).decode()
with open(path_file, "rb") as f:
    parts = []
    n = 1
    while chunk := f.read(part_size):
        parts.append((n, chunk)); n += 1
with ThreadPoolExecutor(inflight) as pool:
    etags = list(pool.map(lambda p: (p[0], request("PUT", {"partNumber": p[0], "uploadId": upload_id}, p[1])[1]), parts))
body = "<CompleteMultipartUpload>" + "".join(f"<Part><PartNumber>{n}</PartNumber><ETag>{e}</ETag></Part>" for n, e in etags) + "</CompleteMultipartUpload>"
request("POST", {"uploadId": upload_id}, body.encode())
print(f"{time.time() - started:.3f}")
