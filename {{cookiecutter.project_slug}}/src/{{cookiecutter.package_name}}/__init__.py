"""A Lambda function that talks to MongoDB Atlas with one reused client per container."""
