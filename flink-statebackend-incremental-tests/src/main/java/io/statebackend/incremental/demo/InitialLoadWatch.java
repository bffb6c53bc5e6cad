package io.statebackend.incremental.demo;

import org.apache.flink.api.common.JobID;
import org.apache.flink.runtime.jobgraph.JobVertexID;

import org.apache.flink.shaded.jackson2.com.fasterxml.jackson.databind.JsonNode;
import org.apache.flink.shaded.jackson2.com.fasterxml.jackson.databind.ObjectMapper;

import java.io.IOException;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;

/**
 * Tells when the demo's source has emitted its initial load, as an operator would see it: through
 * the REST API's metrics (the ones the web UI shows), reading the source's gauge {@value
 * DemoJob#LOAD_REMAINING_METRIC} of every subtask. A checkpoint triggered after that moment holds
 * every key.
 */
final class InitialLoadWatch {

    private final HttpClient http =
            HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(2)).build();
    private final ObjectMapper json = new ObjectMapper();
    private final String subtasksUrl;
    private final int parallelism;

    private String metricId;
    private long doneAtMillis = -1;

    InitialLoadWatch(URI restAddress, JobID jobId, JobVertexID sourceVertex, int parallelism) {
        this.subtasksUrl =
                restAddress.toString().replaceAll("/+$", "")
                        + "/jobs/"
                        + jobId
                        + "/vertices/"
                        + sourceVertex
                        + "/subtasks/";
        this.parallelism = parallelism;
    }

    /** The wall-clock time at which the load was first seen done, or -1 if not (yet) seen. */
    long doneAtMillis() {
        return doneAtMillis;
    }

    /**
     * Asks the REST API whether every source subtask reports no load left; returns true when it
     * does, the first time. Metrics arrive with a delay (the metric fetcher's interval), so the
     * moment is a little late, never early.
     */
    boolean poll() throws IOException, InterruptedException {
        if (doneAtMillis >= 0) {
            return false;
        }
        if (metricId == null) {
            // operator metrics carry the operator's name in front: look the id up
            for (JsonNode metric : get(subtasksUrl + "metrics")) {
                final String id = metric.path("id").asText();
                if (id.endsWith(DemoJob.LOAD_REMAINING_METRIC)) {
                    metricId = id;
                }
            }
            if (metricId == null) {
                return false;
            }
        }
        final String query = "/metrics?get=" + URLEncoder.encode(metricId, StandardCharsets.UTF_8);
        for (int subtask = 0; subtask < parallelism; subtask++) {
            final JsonNode values = get(subtasksUrl + subtask + query);
            if (values.size() != 1 || values.get(0).path("value").asLong(-1) != 0) {
                return false;
            }
        }
        doneAtMillis = System.currentTimeMillis();
        return true;
    }

    private JsonNode get(String url) throws IOException, InterruptedException {
        final HttpResponse<String> response =
                http.send(
                        HttpRequest.newBuilder(URI.create(url))
                                .timeout(Duration.ofSeconds(5))
                                .build(),
                        HttpResponse.BodyHandlers.ofString());
        return response.statusCode() == 200
                ? json.readTree(response.body())
                : json.createArrayNode();
    }
}
