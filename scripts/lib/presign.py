"""Prints a SigV4 presigned URL (path style, valid 1 h) of KEY in $S3_BUCKET at $S3_ENDPOINT.

Usage: python3 scripts/lib/presign.py GET|PUT KEY   (environment: S3_ENDPOINT, S3_REGION,
S3_BUCKET, S3_ACCESS_KEY, S3_SECRET_KEY). Used by scripts/bench.sh for direct transfers.
"""
import datetime, hashlib, hmac, os, sys, urllib.parse
method, key = sys.argv[1], sys.argv[2]
endpoint, region = os.environ["S3_ENDPOINT"], os.environ["S3_REGION"]
access, secret = os.environ["S3_ACCESS_KEY"], os.environ["S3_SECRET_KEY"]
host = urllib.parse.urlparse(endpoint).netloc
now = datetime.datetime.now(datetime.timezone.utc)
stamp, day = now.strftime("%Y%m%dT%H%M%SZ"), now.strftime("%Y%m%d")
scope = f"{day}/{region}/s3/aws4_request"
path = "/" + urllib.parse.quote(f"{os.environ['S3_BUCKET']}/{key}", safe="/-_.~")
query = {"X-Amz-Algorithm": "AWS4-HMAC-SHA256", "X-Amz-Credential": f"{access}/{scope}",
         "X-Amz-Date": stamp, "X-Amz-Expires": "3600", "X-Amz-SignedHeaders": "host"}
encode = lambda text: urllib.parse.quote(text, safe="-_.~")
canonical_query = "&".join(f"{encode(k)}={encode(v)}" for k, v in sorted(query.items()))
request = f"{method}\n{path}\n{canonical_query}\nhost:{host}\n\nhost\nUNSIGNED-PAYLOAD"
digest = hashlib.sha256(request.encode()).hexdigest()
to_sign = f"AWS4-HMAC-SHA256\n{stamp}\n{scope}\n{digest}"
signing_key = ("AWS4" + secret).encode()
for part in (day, region, "s3", "aws4_request"):
    signing_key = hmac.new(signing_key, part.encode(), hashlib.sha256).digest()
signature = hmac.new(signing_key, to_sign.encode(), hashlib.sha256).hexdigest()
print(f"{endpoint}{path}?{canonical_query}&X-Amz-Signature={signature}")
