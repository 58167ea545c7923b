urlpatterns = []
app_name = 'enterprises'
