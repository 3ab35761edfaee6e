"""Spark in local mode on `hdfs://` paths (issue 24): PySpark 4.0.0 from
PyPI, with the Hadoop 3.4.1 client it carries, unmodified, against the
namenode's Hadoop door and the datanodes' data transfer port. A DataFrame
of 200,000 rows written as Parquet and as CSV and read back equal; a word
count over 50 MiB of text written by `dfs put`.

Everything stays on loopback: the driver is bound to 127.0.0.1.
"""

import collections
import os
import random
import shutil
import subprocess

import pytest

from conftest import binary


@pytest.fixture(scope="module")
def spark(cluster):
    if shutil.which("java") is None:
        pytest.fail("java is missing: apt-get install openjdk-17-jre-headless")
    os.environ["SPARK_LOCAL_IP"] = "127.0.0.1"
    from pyspark.sql import SparkSession
    base = cluster.doc["hadoop_rpc"]
    s = (SparkSession.builder.master("local[2]").appName("dfs-test")
         .config("spark.ui.enabled", "false")
         .config("spark.driver.host", "127.0.0.1")
         .config("spark.driver.bindAddress", "127.0.0.1")
         .config("spark.hadoop.fs.defaultFS", base)
         .config("spark.sql.shuffle.partitions", "4")
         .getOrCreate())
    s.base = base
    yield s
    s.stop()


def dfs(cluster, *args: str) -> str:
    env = dict(os.environ, DFS_NAMENODE=cluster.url)
    p = subprocess.run([str(binary("dfs")), *args], env=env, check=True, capture_output=True)
    return p.stdout.decode()


def test_a_dataframe_as_parquet_and_csv(cluster, spark):
    df = spark.range(200_000).selectExpr(
        "id", "id * 3 as tripled", "concat('name-', cast(id as string)) as name")
    for fmt in ("parquet", "csv"):
        path = f"{spark.base}/spark/table.{fmt}"
        df.write.mode("overwrite").option("header", True).format(fmt).save(path)
        back = spark.read.option("header", True).schema(df.schema).format(fmt).load(path)
        assert back.count() == 200_000
        assert back.exceptAll(df).count() == 0 and df.exceptAll(back).count() == 0
        # Spark's committer left its files, and its marker, where dfs sees them.
        listing = dfs(cluster, "ls", f"/spark/table.{fmt}")
        assert "_SUCCESS" in listing and "part-" in listing, listing


def test_a_word_count_over_text_dfs_wrote(cluster, spark, tmp_path):
    rng = random.Random(24)
    vocabulary = [f"w{i}" for i in range(5000)]
    text = tmp_path / "words.txt"
    counts = collections.Counter()
    with open(text, "w") as f:
        written = 0
        while written < 50 << 20:
            words = rng.choices(vocabulary, k=20)
            counts.update(words)
            line = " ".join(words) + "\n"
            f.write(line)
            written += len(line)
    # Blocks of 16 MiB: Spark splits the file along them.
    dfs(cluster, "put", "--block-size", "16MiB", str(text), "/spark/words.txt")
    got = (spark.sparkContext.textFile(f"{spark.base}/spark/words.txt")
           .flatMap(str.split).map(lambda w: (w, 1)).reduceByKey(lambda a, b: a + b)
           .collectAsMap())
    assert got == dict(counts)
