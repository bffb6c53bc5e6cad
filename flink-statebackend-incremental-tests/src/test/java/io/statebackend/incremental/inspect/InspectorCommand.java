package io.statebackend.incremental.inspect;

import org.apache.flink.shaded.jackson2.com.fasterxml.jackson.databind.JsonNode;
import org.apache.flink.shaded.jackson2.com.fasterxml.jackson.databind.ObjectMapper;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.Set;
import java.util.TreeSet;
import java.util.function.LongSupplier;

/** Runs the checkpoint inspector in this JVM, as {@code bin/statebackend-inspect} would. */
public final class InspectorCommand {

    public final int status;
    public final String out;
    public final String err;

    private InspectorCommand(int status, String out, String err) {
        this.status = status;
        this.out = out;
        this.err = err;
    }

    /** Runs it with {@code clock} as the current time. */
    public static InspectorCommand run(LongSupplier clock, String... args) {
        final ByteArrayOutputStream out = new ByteArrayOutputStream();
        final ByteArrayOutputStream err = new ByteArrayOutputStream();
        final int status =
                InspectorMain.run(
                        args,
                        new PrintStream(out, true, StandardCharsets.UTF_8),
                        new PrintStream(err, true, StandardCharsets.UTF_8),
                        clock);
        return new InspectorCommand(
                status, out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8));
    }

    /** The output of a {@code --json} run. */
    public JsonNode json() throws IOException {
        return new ObjectMapper().readTree(out);
    }

    /** The unreferenced files in {@code shared/} of the only inspected job. */
    public Set<Path> unreferencedSharedFiles() throws IOException {
        return localPaths(json().get("jobs").get(0).get("unreferencedSharedFiles"));
    }

    /** The paths of the objects in a JSON array of files, as local paths. */
    public static Set<Path> localPaths(JsonNode files) {
        final Set<Path> paths = new TreeSet<>();
        for (JsonNode file : files) {
            paths.add(
                    Paths.get(URI.create(file.get("path").asText())).toAbsolutePath().normalize());
        }
        return paths;
    }

    @Override
    public String toString() {
        return "exit status " + status + "\n--- stdout\n" + out + "--- stderr\n" + err;
    }
}
