package io.statebackend.incremental.snapshot;

import io.statebackend.incremental.testutils.RottenBlocks;

import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.rocksdb.EnvOptions;
import org.rocksdb.Options;
import org.rocksdb.SstFileWriter;

import java.io.RandomAccessFile;
import java.nio.file.Files;
import java.nio.file.Path;

import static java.nio.charset.StandardCharsets.UTF_8;
import static org.assertj.core.api.Assertions.assertThatCode;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** The verification of an SST file before its upload, on intact and damaged files. */
class SstBlockChecksumsTest {

    @TempDir Path tmp;

    private Path sst;

    @BeforeEach
    void writeFile() throws Exception {
        sst = tmp.resolve("000007.sst");
        try (Options options = new Options();
                EnvOptions envOptions = new EnvOptions();
                SstFileWriter writer = new SstFileWriter(envOptions, options)) {
            writer.open(sst.toString());
            for (int i = 0; i < 10_000; i++) {
                writer.put(
                        String.format("key-%08d", i).getBytes(UTF_8),
                        ("value-" + i).getBytes(UTF_8));
            }
            writer.finish();
        }
    }

    @Test
    void anIntactFilePasses() {
        assertThatCode(() -> SstBlockChecksums.verify(sst)).doesNotThrowAnyException();
    }

    @Test
    void aRottenBlockFailsNamingTheFile() throws Exception {
        RottenBlocks.rotFirstDataBlock(sst.toFile());

        assertThatThrownBy(() -> SstBlockChecksums.verify(sst))
                .hasMessageStartingWith("The SST file 000007.sst on the local disk is damaged: ")
                .hasMessageContaining("block checksum mismatch");
    }

    @Test
    void aTruncatedFileFails() throws Exception {
        try (RandomAccessFile file = new RandomAccessFile(sst.toFile(), "rw")) {
            file.setLength(file.length() / 2);
        }

        assertThatThrownBy(() -> SstBlockChecksums.verify(sst))
                .hasMessageStartingWith("The SST file 000007.sst on the local disk is damaged: ");
    }

    @Test
    void aMissingFileIsNotCalledDamaged() {
        Path missing = tmp.resolve("000008.sst");

        assertThatThrownBy(() -> SstBlockChecksums.verify(missing))
                .hasMessageStartingWith(
                        "Could not read the SST file " + missing + " to verify its block checksums")
                .hasMessageNotContaining("damaged");
    }

    @Test
    void onlySstFilesAreVerifiedBeforeTheUpload() throws Exception {
        Path manifest = tmp.resolve("MANIFEST-000005");
        Files.write(manifest, "not an SST file".getBytes(UTF_8));
        RottenBlocks.rotFirstDataBlock(sst.toFile());

        assertThatCode(() -> LocalFileVerification.BEFORE_UPLOAD.check(manifest))
                .doesNotThrowAnyException();
        assertThatThrownBy(() -> LocalFileVerification.BEFORE_UPLOAD.check(sst))
                .hasMessageContaining("000007.sst on the local disk is damaged");
    }
}
