# The existing Atlas cluster the function uses. This stack reads it and never changes it.

data "mongodbatlas_advanced_cluster" "atlas" {
  project_id = var.atlas_project_id
  name       = var.atlas_cluster_name

  lifecycle {
    # For a name Atlas does not know, the provider reports no error and leaves every attribute
    # null: stop here with the name, before anything reads a connection string from it.
    postcondition {
      condition     = self.state_name != null
      error_message = "Atlas project ${var.atlas_project_id} has no cluster named \"${var.atlas_cluster_name}\" (names are case-sensitive): set atlas_cluster_name to a cluster the Atlas UI lists in that project."
    }
  }
}
