"""No S3 request body is ignored: a CreateBucket body that is not a CreateBucketConfiguration
is MalformedXML and creates nothing (bytes meant for an object, sent to "/name" by an SDK
that chose virtual-hosted style, never become a bucket named after the object); Delete
and CompleteMultipartUpload documents with elements tarn does not read are refused; an S3
PUT or POST that takes no body refuses one. boto3, with bodies swapped before signing."""
import botocore.exceptions
import pytest

from s3util import signed


def swap_body(client, op, body):
    def swap(request, **kw):
        request.data = body
        for h in ("Content-MD5", "Content-Type"):
            if h in request.headers:
                del request.headers[h]
    client.meta.events.register(f"before-sign.s3.{op}", swap)


def error_code(call):
    with pytest.raises(botocore.exceptions.ClientError) as e:
        call()
    return e.value.response["Error"]["Code"], e.value.response["ResponseMetadata"]["HTTPStatusCode"]


def bucket_exists(s3, name):
    try:
        s3.head_bucket(Bucket=name)
        return True
    except botocore.exceptions.ClientError:
        return False


@pytest.mark.parametrize("body", [
    b"hello, these are the bytes of vhost.txt\n",
    b"\x00\x01\x02 binary",
    b"<CreateBucketConfiguration><LocationConstraint>eu-west-1",  # truncated
    b"<Wrong/>",
    b"<CreateBucketConfiguration><Bogus>1</Bogus></CreateBucketConfiguration>",
])
def test_create_bucket_with_a_junk_body_is_malformed_xml_and_creates_nothing(server, body):
    s3 = server.s3()
    name = "vhost-junk-" + str(abs(hash(body)) % 100000)
    swap_body(s3, "CreateBucket", body)
    assert error_code(lambda: s3.create_bucket(Bucket=name)) == ("MalformedXML", 400)
    assert not bucket_exists(server.s3(), name)


def test_create_bucket_with_no_body_or_a_configuration_still_works(server):
    s3 = server.s3()
    s3.create_bucket(Bucket="plain-no-body")
    s3.create_bucket(Bucket="plain-configured",
                     CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
    assert bucket_exists(s3, "plain-no-body") and bucket_exists(s3, "plain-configured")


def test_a_put_of_object_bytes_to_a_bare_name_never_reports_success(server):
    """What an SDK sends when it addressed an object virtual-hosted style and the server
    has no domain configured: PUT /<key> with the object's bytes."""
    r = signed(server, "PUT", "/vhost.txt", body=b"the object's bytes")
    assert r.status == 400 and b"MalformedXML" in r.body
    assert not bucket_exists(server.s3(), "vhost.txt")


def test_delete_documents_with_unread_elements_are_refused(server):
    s3 = server.s3()
    s3.put_object(Bucket="raw", Key="bodies/keep.txt", Body=b"x")
    for body, code in [
        (b"<Delete></Delete>", "MalformedXML"),
        (b"<Delete><Quiet>maybe</Quiet><Object><Key>bodies/keep.txt</Key></Object></Delete>",
         "MalformedXML"),
        (b"<Delete><Objekt><Key>bodies/keep.txt</Key></Objekt></Delete>", "MalformedXML"),
        (b"<Delete><Object><Key>bodies/keep.txt</Key><ETag>\"nope\"</ETag></Object></Delete>",
         "NotImplemented"),
    ]:
        c = server.s3()
        swap_body(c, "DeleteObjects", body)
        got = error_code(lambda: c.delete_objects(
            Bucket="raw", Delete={"Objects": [{"Key": "bodies/keep.txt"}]}))
        assert got[0] == code, body
    assert s3.get_object(Bucket="raw", Key="bodies/keep.txt")["Body"].read() == b"x"


def test_complete_multipart_with_no_parts_or_unknown_elements_is_refused(server):
    for body in [b"<CompleteMultipartUpload></CompleteMultipartUpload>",
                 b"<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>x</ETag>"
                 b"<Extra/></Part></CompleteMultipartUpload>"]:
        s3 = server.s3()
        up = s3.create_multipart_upload(Bucket="raw", Key="bodies/mpu.bin")
        etag = s3.upload_part(Bucket="raw", Key="bodies/mpu.bin", UploadId=up["UploadId"],
                              PartNumber=1, Body=b"p" * 100)["ETag"]
        swap_body(s3, "CompleteMultipartUpload", body)
        assert error_code(lambda: s3.complete_multipart_upload(
            Bucket="raw", Key="bodies/mpu.bin", UploadId=up["UploadId"],
            MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": etag}]}))[0] == "MalformedXML"
        server.s3().abort_multipart_upload(Bucket="raw", Key="bodies/mpu.bin",
                                           UploadId=up["UploadId"])


def test_a_body_on_an_operation_that_takes_none_is_refused(server):
    s3 = server.s3()
    s3.put_object(Bucket="raw", Key="bodies/src.txt", Body=b"source")
    c = server.s3()
    swap_body(c, "CopyObject", b"bytes that would be lost")
    assert error_code(lambda: c.copy_object(Bucket="raw", Key="bodies/dst.txt",
                                            CopySource="raw/bodies/src.txt"))[0] == \
        "InvalidRequest"
    c = server.s3()
    swap_body(c, "CreateMultipartUpload", b"<x/>")
    assert error_code(lambda: c.create_multipart_upload(Bucket="raw", Key="bodies/m"))[0] == \
        "InvalidRequest"
