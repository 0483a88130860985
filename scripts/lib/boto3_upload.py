"""Direct upload of FILE to KEY in $S3_BUCKET at $S3_ENDPOINT with boto3's upload_file, the
way an application would do it without quillstore: boto3's defaults (multipart above 8 MiB in
8 MiB parts, 10 threads, a CRC32 of every part, and over plain http a SHA-256 signed payload),
path-style addressing. The client is made and its connection opened before the clock starts.
Prints seconds. Used by scripts/bench-s3-upload.sh and scripts/bench.sh as the anchor issue
21 measured against ("boto3 direct").
Usage: python3 scripts/lib/boto3_upload.py FILE KEY   (run with the venv of scripts/lib/boto3.sh)"""
import os, sys, time
import boto3
from botocore.config import Config

path, key = sys.argv[1], sys.argv[2]
bucket = os.environ["S3_BUCKET"]
client = boto3.client(
    "s3",
    endpoint_url=os.environ["S3_ENDPOINT"],
    region_name=os.environ["S3_REGION"],
    aws_access_key_id=os.environ["S3_ACCESS_KEY"],
    aws_secret_access_key=os.environ["S3_SECRET_KEY"],
    config=Config(s3={"addressing_style": "path"}),
)
client.list_objects_v2(Bucket=bucket, MaxKeys=1)
started = time.time()
client.upload_file(path, bucket, key)
print(f"{time.time() - started:.3f}")
